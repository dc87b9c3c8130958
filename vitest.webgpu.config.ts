/** `pnpm test:webgpu`: the webgpu-against-cpu parity suite (Dawn in Node; see test/webgpu). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/webgpu/**/*.webgpu.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    // One Dawn device per process is plenty; the suite is one file.
    poolOptions: { forks: { singleFork: true } },
  },
});
