// Acknowledge buttons of the worker's pages (templates/alert_table.html): POST JSON to /alerts/{id}/ack with the
// session cookie and the session's CSRF token (streams/web/session.py). Served as /static/safety.js: the
// Content-Security-Policy admits no inline script (streams/web/guard.py).
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  document.querySelectorAll("form.ack").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {};
      new FormData(form).forEach(function (v, k) { body[k] = v; });
      var status = form.querySelector(".ack-status");
      fetch(form.getAttribute("action"), {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify(body)
      }).then(function (r) {
        status.textContent = r.status === 202 ? "已记录 / recorded" : "失败 / failed (" + r.status + ")";
      }).catch(function () { status.textContent = "失败 / failed"; });
    });
  });
})();
