// Builds the UI into ../internal/ui/dist, which the Go binary embeds.
// The output is deterministic: fixed file names, no timestamps, no source
// maps with absolute paths, so `make ui-check` can rebuild it and compare
// byte for byte with what is committed.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "internal", "ui", "dist");
const assets = join(out, "assets");

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

await build({
  absWorkingDir: here,
  entryPoints: { app: "src/main.tsx" },
  outdir: assets,
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome111", "firefox115", "safari16"],
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  jsx: "automatic",
  jsxImportSource: "preact",
  charset: "utf8",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});

copyFileSync(join(here, "public", "favicon.svg"), join(assets, "favicon.svg"));

// index.html references the assets with a content hash in the query string,
// so a browser never mixes an old script with a new stylesheet.
const hash = (f) => createHash("sha256").update(readFileSync(join(assets, f))).digest("hex").slice(0, 12);
const html = readFileSync(join(here, "index.html"), "utf8")
  .replace("__JS__", `/assets/app.js?v=${hash("app.js")}`)
  .replace("__CSS__", `/assets/app.css?v=${hash("app.css")}`);
writeFileSync(join(out, "index.html"), html);
