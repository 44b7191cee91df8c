import { useState, type FormEvent } from "react";
import { parseHash, type Hash } from "../../../../protocol/hash.js";

/** The job-id search: a labelled field, checked before anything is read from the chain. */
export default function JobSearch(props: { initial: string; onSearch: (jobId: Hash) => void; onClear: () => void }) {
  const [text, setText] = useState(props.initial);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = text.trim();
    if (value === "") {
      setProblem(undefined);
      props.onClear();
      return;
    }
    try {
      props.onSearch(parseHash(value, "a job id"));
      setProblem(undefined);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <form className="av-search" role="search" onSubmit={submit} data-testid="audit-search">
      <label htmlFor="audit-job-id">Job id</label>
      <div className="av-search-row">
        <input
          id="audit-job-id"
          name="jobId"
          type="text"
          inputMode="text"
          autoComplete="off"
          spellCheck={false}
          placeholder="0x followed by 64 hex digits"
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-invalid={problem !== undefined}
          aria-describedby="audit-job-id-help"
          data-testid="audit-search-input"
        />
        <button type="submit" className="pc-button" data-testid="audit-search-button">
          Find job
        </button>
      </div>
      <p id="audit-job-id-help" className={problem ? "pc-field-problem" : "pc-field-help"} data-testid="audit-search-problem">
        {problem ?? "Leave empty and press Find job to list recent jobs."}
      </p>
    </form>
  );
}
