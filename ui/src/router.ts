// A small history-API router: every page has a URL (/search?..., /trace/{id}?...)
// and same-origin links navigate without reloading.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "search"; params: URLSearchParams }
  | { page: "trace"; id: string; params: URLSearchParams }
  | { page: "notfound"; path: string };

export function parseRoute(loc: { pathname: string; search: string }): Route {
  const params = new URLSearchParams(loc.search);
  const path = loc.pathname;
  if (path === "/" || path === "/search") return { page: "search", params };
  const m = /^\/trace\/([^/]+)$/.exec(path);
  if (m) return { page: "trace", id: decodeURIComponent(m[1]), params };
  return { page: "notfound", path };
}

const changed = "clew:navigate";

/** navigate changes the URL and tells the app to render the new route. */
export function navigate(url: string, replace = false): void {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event(changed));
}

/** useRoute returns the current route and re-renders when it changes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location));
    window.addEventListener("popstate", update);
    window.addEventListener(changed, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(changed, update);
    };
  }, []);
  return route;
}

/** interceptLinks makes plain clicks on same-origin links client-side navigations. */
export function interceptLinks(): void {
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.("a");
    if (!a || a.hasAttribute("download") || (a.target && a.target !== "_self")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
}
