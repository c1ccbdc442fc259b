"""The HTTP interface: FastAPI routers, one per resource family, plus errors and auth."""
