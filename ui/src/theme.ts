// Light and dark themes: the choice is kept in localStorage; without one the
// system preference applies.
export type Theme = "light" | "dark";

const key = "clew.theme";

export function initialTheme(): Theme {
  try {
    const t = localStorage.getItem(key);
    if (t === "light" || t === "dark") return t;
  } catch {
    // Storage may be disabled; fall through to the system preference.
  }
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** themeEvent is dispatched on window when the theme changes. */
export const themeEvent = "clew:theme";

export function applyTheme(t: Theme, remember: boolean): void {
  document.documentElement.dataset.theme = t;
  window.dispatchEvent(new Event(themeEvent));
  if (remember) {
    try {
      localStorage.setItem(key, t);
    } catch {
      // Not remembered; the theme still applies to this page.
    }
  }
}
