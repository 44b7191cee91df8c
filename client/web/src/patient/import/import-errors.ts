import type { ErrorView } from "../../../../error-view.js";

/**
 * A file that cannot be read at all (not JSON, not a FHIR resource, XML not well-formed, a CSV without its columns)
 * arrives from the worker as an error named IntakeFormatError (comlink keeps the name and message, not the class):
 * worded here; anything else the shared way.
 */
export function importErrorView(error: unknown, describe: (error: unknown) => ErrorView): ErrorView {
  const name = error instanceof Error ? error.name : undefined;
  if (name === "IntakeFormatError" || name === "AppleHealthFormatError") {
    return {
      kind: "model",
      title: "File not readable",
      sentence: (error as Error).message,
      next: "choose a FHIR R4 JSON file, an Apple Health export.xml (from the export's zip) or a device CSV with the columns timestamp, metric, value and unit",
      retryable: false,
      code: name,
    };
  }
  return describe(error);
}
