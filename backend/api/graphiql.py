"""GraphiQL that works without internet: its page and its assets served by the app itself.

Strawberry's own GraphiQL page loads React and GraphiQL from unpkg.com, so on a machine without internet
it never leaves «Loading…». This page loads the same kind of assets from an installed package,
``graphene-django-graphiql-static`` (GraphiQL 2 with React 17 and the explorer plugin as UMD files; the
package has no dependency and its Django app is not imported, only its ``static/`` files are read), served
at :data:`ASSETS_PATH`. Nothing on the page reaches another host.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from litestar.static_files import create_static_files_router

ASSETS_PATH = "/static/graphiql"
_PACKAGE = "graphene_django_graphiql_static"
#: The package's assets: GraphiQL, React and the explorer plugin, all UMD builds that need no bundler.
ASSETS: tuple[str, ...] = (
    "graphiql.min.css",
    "style.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphql-ws.min.js",
    "graphiql-plugin-explorer.umd.js",
)


def assets_directory() -> Path:
    """Where the installed package keeps the assets (a real directory: wheels install unpacked)."""
    return Path(str(files(_PACKAGE).joinpath("static", _PACKAGE)))


def assets_router() -> Any:
    """``GET /static/graphiql/<file>``: the package's assets, cached by the browser for a day."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[assets_directory()],
        include_in_schema=False,
        cache_control=None,
        name="graphiql-assets",
    )


def _tags() -> str:
    out = []
    for name in ASSETS:
        if name.endswith(".css"):
            out.append(f'<link rel="stylesheet" href="{ASSETS_PATH}/{name}">')
        else:
            out.append(f'<script src="{ASSETS_PATH}/{name}"></script>')
    return "\n    ".join(out)


GRAPHIQL_HTML = f"""<!doctype html>
<html lang="ru">
  <head>
    <meta charset="utf-8">
    <link rel="icon" href="data:,">
    <title>GraphiQL: «Мое здоровье»</title>
    <style>
      html, body, #graphiql {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }}
    </style>
    {_tags()}
  </head>
  <body>
    <div id="graphiql">Загрузка GraphiQL…</div>
    <script>
      // Authorization goes in the Headers tab: {{"Authorization": "Bearer <token>"}}.
      const url = window.location.href.split("?")[0].split("#")[0];
      const ws = new URL(url);
      ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
      const fetcher = GraphiQL.createFetcher({{ url, subscriptionUrl: ws.toString() }});
      const DEFAULT_QUERY = "# GraphiQL «Мое здоровье»: схема — в «Documentation Explorer» слева.\\n" +
        "# Маркер доступа укажите во вкладке Headers: {{\\"Authorization\\": \\"Bearer …\\"}}\\n" +
        "query ApiInfo {{\\n  apiInfo {{\\n    version\\n  }}\\n}}\\n";
      function App() {{
        const [query, setQuery] = React.useState(DEFAULT_QUERY);
        const explorer = GraphiQLPluginExplorer.useExplorerPlugin({{ query, onEdit: setQuery }});
        return React.createElement(GraphiQL, {{
          fetcher,
          query,
          onEditQuery: setQuery,
          plugins: [explorer],
          isHeadersEditorEnabled: true,
          shouldPersistHeaders: true,
          inputValueDeprecation: true,
        }});
      }}
      ReactDOM.render(React.createElement(App), document.getElementById("graphiql"));
    </script>
  </body>
</html>
"""
