/**
 * @hodiff/core — composable JAX-style derivative transforms on TensorFlow.js kernels.
 *
 * Arrays are tfjs tensors (or tracers inside transforms); ops broadcast like numpy; transforms
 * accept and return pytrees and nest to any depth.
 */
export { array, zeros, ones, zerosLike, onesLike, shapeOf, dtypeOf, toNested, toFlat, item } from "./array";
export type { NestedNumbers, ArrayOptions } from "./array";
export { copyInto } from "./heap";
export { toNestedAsync, toFlatAsync, itemAsync } from "./readAsync";
export type { DType, Tensor } from "./kernels";
export { tidy, dispose } from "./memory";
export { scope, keep, carry, reachableTensors } from "./scope";
export { setBackend, getBackend, useDefaultBackend, numTensors, BACKENDS } from "./backend";
export { setSimdKernels, simdKernelsActive } from "./simd/install";
export { setHeapGemm, heapGemmActive, type HeapGemm } from "./simd/install";
export type { BackendName, DefaultBackendOptions } from "./backend";
export { getWebGpuAdapter, takeWebGpuErrors, canReadSync } from "./backend";
export type { WebGpuAdapterInfo } from "./webgpu/install";
export { HodiffError, ShapeError, TreeError, TraceError, ArgumentError, NonFiniteError } from "./errors";
export { setDebugNans, withDebugNans, debugNansEnabled } from "./debugNans";
export { Tracer } from "./trace/core";
export type { Value, ArrayLike, Aval, Primitive, AnyPrimitive } from "./trace/core";
export {
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  expm1,
  log,
  log1p,
  sin,
  cos,
  tanh,
  sqrt,
  pow,
  maximum,
  minimum,
  where,
  greater,
  less,
  equal,
  cast,
  stopGradient,
} from "./primitives/elementwise";
export { reshape, broadcastTo, transpose, slice, pad, concat, reverse } from "./primitives/shape";
export {
  sum,
  mean,
  max,
  square,
  abs,
  matmul,
  logsumexp,
  logSoftmax,
  softmax,
  biasTanh,
  relu,
  elu,
  sigmoid,
  expandDims,
  squeeze,
  stack,
  conv2d,
  maxPool,
  avgPool,
} from "./ops";
export type { Conv2DOptions, PoolOptions } from "./ops";
export type { Padding } from "./primitives/linalg";
export { shareProducts } from "./primitives/linalg";
export { axpy } from "./axpy";
export { treeFlatten, treeUnflatten, treeMap, treeLeaves, treePaths, flattenAs, treeDefEqual, isLeaf } from "./tree";
export type { Tree, TreeDef } from "./tree";
export { jvp, vjp, grad, valueAndGrad, vmap, linearize, jacfwd, jacrev, hessian, hvp } from "./transforms/api";
export type {
  GradOptions,
  JacOptions,
  AxisSpec,
  Pullback,
  Jacobian,
  GradsOf,
  Plain,
  WithAux,
  ArgN,
} from "./transforms/api";
export { jit, makeJaxpr } from "./transforms/jit";
export type { Jitted, JitOptions } from "./transforms/jit";
export type { LinearMap } from "./transforms/linearize";
export { evalJaxpr, Jaxpr, ClosedJaxpr, Var, Literal } from "./staging/jaxpr";
export type { Atom, Eqn } from "./staging/jaxpr";
export type { CallParams } from "./staging/call";
export { isCallPrimitive, type CallPrimitive, type AnyCallPrimitive } from "./trace/core";
export * as random from "./random";
export type { Key } from "./random";
export * as testing from "./testing";
export { jet, multiJet } from "./transforms/jet";
export { defJet, hasJetRule } from "./trace/jet";
export type { JetRule, Term } from "./trace/jet";
export { checkpoint } from "./transforms/checkpoint";
export type { CheckpointOptions } from "./transforms/checkpoint";
