/// The stylesheet and the one script, served from `/static/` (no external assets;
/// the Content-Security-Policy allows only same-origin scripts and styles).
enum Assets {
    static func response(_ name: String) -> DashboardResponse {
        switch name {
        case "dashboard.css": return .asset(css, contentType: "text/css; charset=utf-8")
        case "dashboard.js": return .asset(script, contentType: "text/javascript; charset=utf-8")
        default: return .failure(status: 404, message: "No page at this address.")
        }
    }

    static let css = """
        body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
        nav { background: #243447; padding: 8px 16px; }
        nav a { color: #fff; margin-right: 16px; text-decoration: none; font-weight: 600; }
        main { padding: 8px 16px 32px; }
        h1 .id, .id { color: #777; font-size: 0.8em; font-family: monospace; }
        table.data { border-collapse: collapse; background: #fff; font-size: 13px; }
        table.data th, table.data td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; }
        table.data thead th { background: #eef1f5; position: sticky; top: 0; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        table.kv th { text-align: left; padding-right: 16px; vertical-align: top; font-weight: 600; }
        .status.running { color: #1f77b4; } .status.completed { color: #2ca02c; }
        .status.failed, .status.diverged, .error { color: #d62728; } .ok { color: #2ca02c; }
        .fork { color: #777; font-size: 12px; } .tag { background: #eef; border-radius: 3px; padding: 0 4px; font-size: 12px; } .note { white-space: pre-wrap; } .pruned { color: #d62728; }
        section.charts { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
        svg.chart { background: #fff; border: 1px solid #ddd; }
        form.filter { margin: 8px 0; } form.metrics label { margin-right: 10px; white-space: nowrap; }
        fieldset { border: 1px solid #ddd; background: #fff; margin: 8px 0 12px; }
        ul.runs { list-style: none; padding: 0; } ul.runs li { margin: 2px 0; }
        a.sort { color: inherit; }
        """

    /// Live updates of a run page: poll the run's state every second and, when an
    /// epoch was committed or the status changed, replace the live section.
    static let script = """
        (function () {
          'use strict';
          var container = document.getElementById('live-container');
          if (!container) { return; }
          var busy = false;
          function poll() {
            var live = document.getElementById('live');
            if (!live || busy) { return; }
            var run = encodeURIComponent(live.getAttribute('data-run'));
            busy = true;
            fetch('/api/runs/' + run + '/state', { cache: 'no-store' })
              .then(function (response) { return response.ok ? response.json() : null; })
              .then(function (state) {
                if (!state || (String(state.epochs) === live.getAttribute('data-epochs')
                    && state.status === live.getAttribute('data-status'))) { return null; }
                return fetch('/runs/' + run + '/live' + window.location.search, { cache: 'no-store' })
                  .then(function (response) { return response.ok ? response.text() : null; })
                  .then(function (html) { if (html) { container.innerHTML = html; } });
              })
              .catch(function () { })
              .then(function () { busy = false; });
          }
          window.setInterval(poll, 1000);
        })();

        """
}
