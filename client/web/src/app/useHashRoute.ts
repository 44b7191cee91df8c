import { useEffect, useState } from "react";

/** The app's routes live in the hash (#/patient/predict): the page is served statically, from any path. */
export function currentRoute(): string[] {
  const path = location.hash.replace(/^#\/?/, "").split("?")[0] ?? "";
  return path.split("/").filter(Boolean);
}

export function useHashRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(path: string): void {
  location.hash = `#/${path.replace(/^\/+/, "")}`;
}
