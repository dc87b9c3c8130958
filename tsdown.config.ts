/**
 * `pnpm build`: every package under packages/ to its dist/ — ESM JavaScript with source maps and
 * one bundled .d.ts per entry (bundled, so the declarations have no extensionless relative
 * imports, which consumers on `moduleResolution: nodenext` cannot resolve).
 *
 * Generic over packages/*: a package's entries are read from its manifest's `publishConfig`
 * (each `./dist/NAME.js` of `exports` and `bin` is built from `src/NAME.ts`), so a new package
 * needs no change here. Dependencies stay external (tsdown's default for `dependencies` and
 * `peerDependencies`), so @hodiff/* packages import each other by name, like any consumer.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type UserConfig } from "tsdown";

interface Manifest {
  name: string;
  publishConfig?: { exports?: unknown; bin?: unknown };
}

/** Every string value found in a (nested) `exports`/`bin` object. */
const strings = (x: unknown): string[] =>
  typeof x === "string" ? [x] : x !== null && typeof x === "object" ? Object.values(x).flatMap(strings) : [];

/** `{ NAME: "src/NAME.ts" }` for each `./dist/NAME.js` the published manifest points at. */
function entries(dir: string, manifest: Manifest): Record<string, string> {
  const out: Record<string, string> = {};
  const targets = [...strings(manifest.publishConfig?.exports), ...strings(manifest.publishConfig?.bin)];
  for (const target of targets) {
    const m = /^\.\/dist\/(.+)\.js$/.exec(target);
    if (m === null) continue; // .d.ts files and ./package.json
    const src = join("src", `${m[1]}.ts`);
    if (!existsSync(join(dir, src))) throw new Error(`${manifest.name}: ${target} has no source ${src}`);
    out[m[1]!] = src;
  }
  if (Object.keys(out).length === 0) throw new Error(`${manifest.name}: publishConfig names no ./dist/*.js entry`);
  return out;
}

const packagesDir = join(import.meta.dirname, "packages");
const configs: UserConfig[] = readdirSync(packagesDir)
  .map((name) => join(packagesDir, name))
  .filter((dir) => existsSync(join(dir, "package.json")))
  .map((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
    return {
      name: manifest.name,
      cwd: dir,
      entry: entries(dir, manifest),
      format: "esm",
      platform: "node",
      target: "node20",
      fixedExtension: false, // every package is "type": "module": plain .js and .d.ts
      sourcemap: true,
      dts: { tsconfig: join(import.meta.dirname, "tsconfig.json") },
      clean: true,
      hash: false,
      exports: false, // the manifests are written by hand (publishConfig), not by the build
    } satisfies UserConfig;
  });

export default defineConfig(configs);
