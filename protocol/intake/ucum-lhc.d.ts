// The part of @lhncbc/ucum-lhc's API PMHE uses (the package ships no type declarations).
declare module "@lhncbc/ucum-lhc" {
  export interface ConversionResult {
    status: "succeeded" | "failed" | "error";
    toVal?: number;
    msg?: string[];
  }
  export class UcumLhcUtils {
    static getInstance(): UcumLhcUtils;
    convertUnitTo(fromUnit: string, fromVal: number, toUnit: string, options?: { molecularWeight?: number }): ConversionResult;
    validateUnitString(unit: string): { status: "valid" | "invalid" | "error"; msg?: string[] };
  }
}
