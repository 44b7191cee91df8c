const ITEMS = [
  { route: "patient", label: "Patient" },
  { route: "hospital", label: "Hospital" },
  { route: "auditor", label: "Auditor" },
] as const;

/** The top-level views. */
export function Nav({ current }: { current: string }) {
  return (
    <nav className="main-nav" aria-label="Views">
      {ITEMS.map((item) => (
        <a key={item.route} href={`#/${item.route}`} aria-current={current === item.route ? "page" : undefined} data-testid={`nav-${item.route}`}>
          {item.label}
        </a>
      ))}
    </nav>
  );
}
