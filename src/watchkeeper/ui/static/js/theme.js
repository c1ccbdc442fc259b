// Runs in <head>, before the first paint: the stored theme, else the system's preference.
(function () {
  var stored = null;
  try { stored = localStorage.getItem("wk-theme"); } catch (e) { /* private mode */ }
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = stored || (dark ? "dark" : "light");
})();
