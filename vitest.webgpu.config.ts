/**
 * `pnpm test:webgpu`: webgpu against cpu (Dawn in Node; see test/webgpu): the parity suite of
 * core/partition and the CLI's train, inspect and lr (`cli.webgpu.ts`).
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/webgpu/**/*.webgpu.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    // One Dawn device per process is plenty: the files run one after the other in one process.
    poolOptions: { forks: { singleFork: true } },
  },
});
