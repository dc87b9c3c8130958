/** Vite builds the page to dist/ (relative asset URLs, so it can be served from any folder). */
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: { target: "es2022", chunkSizeWarningLimit: 4000 },
  optimizeDeps: { exclude: ["webgpu"] },
});
