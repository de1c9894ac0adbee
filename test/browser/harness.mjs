// Starts the real clew binary (../lib/server.mjs), sends it spans over
// OTLP/HTTP JSON, and launches Debian's Chromium through playwright-core.
import { chromium } from "playwright-core";

export { BIN, startClew } from "../lib/server.mjs";
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** send posts OTLP JSON resourceSpans to the receiver and fails unless every span is accepted. */
export async function send(otlpURL, resourceSpans) {
  const r = await fetch(otlpURL, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ resourceSpans }),
  });
  const body = await r.text();
  if (!r.ok) throw new Error(`OTLP export: HTTP ${r.status}: ${body}`);
  const res = body ? JSON.parse(body) : {};
  if (res.partialSuccess?.rejectedSpans) throw new Error(`OTLP export rejected spans: ${body}`);
}

export async function launchBrowser() {
  // playwright-core gives every launch a fresh temporary profile
  // (--user-data-dir) and deletes it on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}
