// Starts the real clew binary on free 127.0.0.1 ports, sends it spans over
// OTLP/HTTP JSON, and launches Debian's Chromium through playwright-core.
import { execFileSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BIN = process.env.CLEW_BIN || new URL("./.bin/clew", import.meta.url).pathname;
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

function freeTCP() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function freeUDP() {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** startClew runs the binary with every listener on a free port and waits for /readyz. */
export async function startClew() {
  const help = execFileSync(BIN, ["--help"], { encoding: "utf8" });
  const flags = [...help.matchAll(/^\s+--([a-z0-9._-]*addr)\s/gm)].map((m) => m[1]);
  const addrs = {};
  const args = [];
  for (const f of flags) {
    const udp = f.includes("udp") || f.includes("agent");
    addrs[f] = `127.0.0.1:${udp ? await freeUDP() : await freeTCP()}`;
    args.push(`--${f}=${addrs[f]}`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), "clew-browser-"));
  args.push("--storage=memory", `--data-dir=${dataDir}`);
  const proc = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => proc.once("exit", (code, sig) => resolve({ code, sig })));
  // Never leave the server behind, even when the test run dies.
  const reap = () => proc.exitCode === null && proc.kill("SIGKILL");
  process.once("exit", reap);
  const query = `http://${addrs["query.addr"]}`;
  const otlp = `http://${addrs["receivers.otlp.http.addr"]}/v1/traces`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`clew exited early (${proc.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${query}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`clew not ready after 30s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    query,
    otlp,
    log: () => log,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

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
