// Starts the real clew binary on free 127.0.0.1 ports for the node tests
// (browser tests, Parquet readers). No dependencies beyond node.
import { execFileSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BIN = process.env.CLEW_BIN || new URL("../browser/.bin/clew", import.meta.url).pathname;

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

/**
 * startClew runs the binary with every listener on a free port and waits
 * for /readyz. opts.storage is the storage engine (memory by default);
 * opts.args are more flags. It returns the listeners' addresses (addrs,
 * by flag name), the data directory, and stop(), which removes the data
 * directory.
 */
export async function startClew(opts = {}) {
  const help = execFileSync(BIN, ["--help"], { encoding: "utf8" });
  const flags = [...help.matchAll(/^\s+--([a-z0-9._-]*addr)\s/gm)].map((m) => m[1]);
  const addrs = {};
  const args = [];
  for (const f of flags) {
    const udp = f.includes("udp") || f.includes("agent");
    addrs[f] = `127.0.0.1:${udp ? await freeUDP() : await freeTCP()}`;
    args.push(`--${f}=${addrs[f]}`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), "clew-test-"));
  args.push(`--storage=${opts.storage || "memory"}`, `--data-dir=${dataDir}`, ...(opts.args || []));
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
    addrs,
    dataDir,
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
