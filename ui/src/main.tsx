import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { interceptLinks, navigate, useRoute } from "./router";
import { applyTheme, initialTheme, type Theme } from "./theme";
import { SearchPage } from "./search/SearchPage";
import { TracePage } from "./trace/TracePage";
import "./styles.css";

function App() {
  const route = useRoute();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [traceInput, setTraceInput] = useState("");
  useEffect(() => applyTheme(theme, false), []);

  const toggleTheme = () => {
    const t = theme === "dark" ? "light" : "dark";
    setTheme(t);
    applyTheme(t, true);
  };
  const openTrace = (e: Event) => {
    e.preventDefault();
    const id = traceInput.trim().toLowerCase();
    if (id) navigate(`/trace/${encodeURIComponent(id)}`);
    setTraceInput("");
  };

  return (
    <div class="app">
      <header class="topbar">
        <a class="brand" href="/search">
          Clew
        </a>
        <nav>
          <a href="/search" class={route.page === "search" ? "active" : ""}>
            Search
          </a>
        </nav>
        <form class="goto" onSubmit={openTrace} role="search">
          <input
            aria-label="Open trace by id"
            placeholder="Trace ID…"
            value={traceInput}
            onInput={(e) => setTraceInput((e.target as HTMLInputElement).value)}
          />
        </form>
        <button type="button" class="theme-toggle" onClick={toggleTheme} title="Switch light/dark theme">
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </header>
      <main>
        {route.page === "search" && <SearchPage params={route.params} />}
        {route.page === "trace" && <TracePage key={route.id} id={route.id} params={route.params} />}
        {route.page === "notfound" && (
          <div class="notice">
            <h2>Page not found</h2>
            <p>
              There is no page at <code>{route.path}</code>. <a href="/search">Search traces</a>.
            </p>
          </div>
        )}
      </main>
    </div>
  );
}

interceptLinks();
render(<App />, document.getElementById("app")!);
