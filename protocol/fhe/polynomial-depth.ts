/** Levels (rescales) a polynomial of this degree takes with the engine's evaluation (circuits.ts: u², then (c3·u)·u²). */
export function polynomialDepth(degree: number): number {
  return degree <= 1 ? 1 : 2;
}
