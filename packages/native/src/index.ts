/**
 * @hodiff/native: an opt-in native GEMM for hodiff's wasm backend. `installNativeGemm()` routes
 * float32 matmuls to OpenBLAS through a Node-API addon working in place on tfjs-wasm's heap; by
 * default hodiff stays on its embedded wasm kernels. See README.md for building and numbers.
 */
export { installNativeGemm, nativeGemmAvailable, nativeBlasConfig, type NativeGemm } from "./gemm";
export { loadAddon, HOW_TO_BUILD, type NativeAddon } from "./addon";
