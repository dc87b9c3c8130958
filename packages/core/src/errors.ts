/** Errors thrown by hodiff. Messages name the op or transform, the pytree path and the shapes. */

/** Base class of every hodiff error, so callers can catch them all at once. @category errors */
export class HodiffError extends Error {
  override name = "HodiffError";
}

/** Incompatible shapes or dtypes (an op's arguments, primals vs tangents, mapped axes). @category errors */
export class ShapeError extends HodiffError {
  override name = "ShapeError";
}

/** Two pytrees that should have the same structure do not. @category errors */
export class TreeError extends HodiffError {
  override name = "TreeError";
}

/** Misuse of the tracing machinery: an escaped tracer, unbalanced trace levels. @category errors */
export class TraceError extends HodiffError {
  override name = "TraceError";
}

/** An argument that is not valid for a function (wrong type, out-of-range option). @category errors */
export class ArgumentError extends HodiffError {
  override name = "ArgumentError";
}

/** A primitive produced NaN or ±Inf while the debug-NaNs mode was on (see `setDebugNans`). @category errors */
export class NonFiniteError extends HodiffError {
  override name = "NonFiniteError";
}
