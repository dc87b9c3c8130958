// Checks the manifest and file list of each packed tarball (argv) as npm would read them:
// real versions (no workspace: protocol left), exports/types/files/sideEffects present, every
// file the manifest points at shipped, and nothing but built files, the manifest and docs shipped.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import process from "node:process";

for (const tarball of process.argv.slice(2)) {
  const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ""));
  const manifest = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));
  const where = `${tarball.split("/").pop()}`;
  const text = JSON.stringify(manifest);
  assert.ok(!text.includes("workspace:"), `${where}: a workspace: version is left in ${text}`);
  for (const field of ["exports", "types", "files", "sideEffects"]) {
    assert.ok(field in manifest, `${where}: package.json has no "${field}"`);
  }
  const pointed = [manifest.main, manifest.types, manifest.exports, manifest.bin];
  const strings = (x) =>
    typeof x === "string" ? [x] : x && typeof x === "object" ? Object.values(x).flatMap(strings) : [];
  for (const target of pointed.flatMap(strings)) {
    assert.ok(
      files.includes(target.replace(/^\.\//, "")),
      `${where}: ${target} is named by the manifest but not packed`,
    );
    assert.ok(!target.endsWith(".ts") || target.endsWith(".d.ts"), `${where}: ${target} is TypeScript source`);
  }
  // @hodiff/native also ships the C source and the script its install hook compiles it with.
  const sources = manifest.name === "@hodiff/native" ? /^(csrc\/[^/]+\.c$|scripts\/build\.mjs$)/ : /^$/;
  const stray = files.filter(
    (f) => (!/^(dist\/|package\.json$|README\.md$|LICENSE)/.test(f) && !sources.test(f)) || /\.test\./.test(f),
  );
  assert.deepEqual(stray, [], `${where}: unexpected files in the tarball`);
  for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
    assert.match(range, /^[\^~]?\d/, `${where}: dependency ${dep} has the version range '${range}'`);
  }
}
