import { lazy, type ComponentType } from "react";

/**
 * The hospital and auditor views are built in their own folders, alongside this shell. They are found with
 * import.meta.glob, so a view whose file does not exist yet breaks only its own route ("not part of this build")
 * instead of the build, and each lands in its own chunk, loaded when its route is opened.
 */
const modules = import.meta.glob(["../hospital/HospitalView.tsx", "../auditor/AuditorView.tsx"]);

export class MissingViewError extends Error {
  constructor(readonly view: string, readonly path: string) {
    super(`The ${view} view is not part of this build of the app (${path} is missing).`);
    this.name = "MissingViewError";
  }
}

function optionalView(view: string, path: string, exportName: string): ComponentType {
  return lazy(async () => {
    const load = modules[path];
    if (!load) throw new MissingViewError(view, path.replace(/^\.\.\//, "src/"));
    const module = (await load()) as Record<string, ComponentType | undefined>;
    const component = module[exportName] ?? module.default;
    if (!component) throw new MissingViewError(view, `${path.replace(/^\.\.\//, "src/")} (export ${exportName})`);
    return { default: component };
  });
}

export const HospitalView = optionalView("hospital", "../hospital/HospitalView.tsx", "HospitalView");
export const AuditorView = optionalView("auditor", "../auditor/AuditorView.tsx", "AuditorView");
