/**
 * The error every input parser (FHIR, device CSV, ...) throws when a whole input cannot be read: not JSON, not a FHIR
 * resource, a CSV without the columns it needs. One bad reading never throws: it becomes an IntakeIssue
 * (observation.ts). Browser-safe.
 */
export class IntakeFormatError extends Error {
  override readonly name = "IntakeFormatError";
  /** The input that could not be read, as the caller named it (a file name, "upload", ...). */
  readonly source: string;

  constructor(source: string, message: string, options?: ErrorOptions) {
    super(`${source}: ${message}`, options);
    this.source = source;
  }
}
