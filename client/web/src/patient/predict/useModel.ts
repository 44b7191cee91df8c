import { useEffect, useState } from "react";
import type { AppModel } from "../../../../../protocol/app-config.js";
import { useApp } from "../../app/context.js";
import type { Lookup } from "../session/usePatientSession.js";
import { loadModel, type LoadedModel } from "./model-file.js";

/** The chosen model's file, verified (see model-file.ts). */
export function useModel(meta: AppModel | undefined): Lookup<LoadedModel> | undefined {
  const { blobs, contract } = useApp();
  const [state, setState] = useState<Lookup<LoadedModel> | undefined>(undefined);
  useEffect(() => {
    if (!meta) {
      setState(undefined);
      return;
    }
    let live = true;
    setState({ state: "checking" });
    loadModel(meta, blobs, contract).then(
      (value) => live && setState({ state: "known", value }),
      (error: unknown) => live && setState({ state: "failed", error }),
    );
    return () => {
      live = false;
    };
  }, [meta, blobs, contract]);
  return state;
}
