// The Commands page's send form: posts with the login cookie and the anti-forgery token the
// server rendered into the form (the header is what a cross-site request cannot send), then
// follows the command until it has an outcome.
(function () {
  "use strict";
  const form = document.getElementById("send-form");
  if (!form) return;
  const status = document.getElementById("send-status");
  const out = document.getElementById("send-result");

  function parseArgs(text) {
    const trimmed = text.trim();
    if (!trimmed) return {};
    if (trimmed.startsWith("{")) return JSON.parse(trimmed);
    return { args: trimmed.split("\n").map((l) => l.trim()).filter((l) => l) };
  }

  async function follow(id) {
    // Long-polls: each answer comes as soon as the command ends, or after 20 s still waiting.
    for (;;) {
      let answer;
      try {
        answer = await fetch("/api/v1/commands/" + encodeURIComponent(id) + "?wait=20", {
          credentials: "same-origin",
        });
      } catch (err) {
        return; // the page is going away, or the server is: the list keeps the command
      }
      if (!answer.ok) {
        status.textContent = "command " + id + ": " + answer.status;
        return;
      }
      const record = await answer.json();
      status.textContent = "command " + id + ": " + record.state;
      status.dataset.state = record.state;
      if (!["QUEUED", "RUNNING"].includes(record.state)) {
        out.hidden = false;
        out.textContent = JSON.stringify(record, null, 2);
        return;
      }
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    let body;
    try {
      body = {
        gid: Number(fields.get("gid")),
        nid: Number(fields.get("nid")),
        cmd: fields.get("cmd"),
        args: parseArgs(String(fields.get("args") || "")),
      };
    } catch (err) {
      status.textContent = "args: not a JSON object (" + err.message + ")";
      return;
    }
    const data = String(fields.get("data") || "");
    if (data) body.data = data;
    out.hidden = true;
    status.textContent = "sending…";
    const answer = await fetch("/commands/send", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-WK-CSRF": form.dataset.csrf },
      body: JSON.stringify(body),
    });
    const reply = await answer.json().catch(() => ({}));
    if (answer.status !== 202) {
      status.textContent = "refused (" + answer.status + "): " + ((reply.error && reply.error.message) || "");
      return;
    }
    status.dataset.id = reply.id;
    status.textContent = "command " + reply.id + ": QUEUED";
    follow(reply.id);
  });
})();
