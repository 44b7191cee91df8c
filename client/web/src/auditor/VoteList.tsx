import type { JobHistory } from "../../../../protocol/job-history.js";
import AddressText from "./common/AddressText.js";
import ChainPointText from "./common/ChainPointText.js";
import HashText from "./common/HashText.js";

type Entry =
  | { type: "vote"; at: { block: number; logIndex: number }; vote: JobHistory["votes"][number] }
  | { type: "conflict"; at: { block: number; logIndex: number }; conflict: JobHistory["conflicts"][number] }
  | { type: "skipped"; at: { block: number; logIndex: number }; skipped: JobHistory["skipped"][number] };

/**
 * Every vote on the job in chain order (ResultCommitted, FailureReported), each conflict (ResultConflict) and each
 * skipped batch entry (VoteSkipped), with whether the voter is an operator in office now (a revoked operator's vote
 * no longer counts).
 */
export default function VoteList(props: { job: JobHistory }) {
  const { job } = props;
  const entries: Entry[] = [
    ...job.votes.map((vote): Entry => ({ type: "vote", at: vote, vote })),
    ...job.conflicts.map((conflict): Entry => ({ type: "conflict", at: conflict, conflict })),
    ...job.skipped.map((skipped): Entry => ({ type: "skipped", at: skipped, skipped })),
  ].sort((a, b) => a.at.block - b.at.block || a.at.logIndex - b.at.logIndex);
  return (
    <section className="av-section" aria-labelledby="audit-votes-heading" data-testid="audit-votes">
      <h3 id="audit-votes-heading">Votes</h3>
      {entries.length === 0 ? <p className="av-summary-line">No operator has voted yet.</p> : null}
      <ol className="av-vote-list">
        {entries.map((entry) => {
          if (entry.type === "vote") {
            const v = entry.vote;
            return (
              <li
                key={`v:${v.tx}:${v.logIndex}`}
                className="av-vote"
                data-testid="audit-vote"
                data-kind={v.resultHash ? "result" : "failure"}
                data-in-office={String(v.inOffice)}
              >
                <span className="av-vote-who">
                  <AddressText address={v.coprocessor} short />{" "}
                  <span className={v.inOffice ? "pc-tone-ok" : "pc-tone-warn"} data-testid="audit-vote-office">
                    {v.inOffice ? "operator in office" : "operator revoked since: vote no longer counts"}
                  </span>
                </span>
                <span className="av-vote-what">
                  {v.resultHash ? (
                    <>
                      committed result <HashText value={v.resultHash} short />
                    </>
                  ) : (
                    <>
                      reported failure <strong>{v.reasonName}</strong> (reason {v.reason})
                    </>
                  )}{" "}
                  <span className="pc-number">
                    ({v.votes} {v.votes === 1 ? "vote" : "votes"} for it then)
                  </span>
                </span>
                <ChainPointText block={v.block} tx={v.tx} />
              </li>
            );
          }
          if (entry.type === "conflict") {
            const c = entry.conflict;
            return (
              <li key={`c:${c.tx}:${c.logIndex}`} className="av-vote av-vote-conflict" data-testid="audit-conflict">
                <span className="av-vote-who">
                  <AddressText address={c.coprocessor} short /> <strong className="pc-tone-bad">conflict</strong>
                </span>
                <span className="av-vote-what">
                  voted <HashText value={c.resultHash} short /> against <HashText value={c.conflictingWith} short />
                </span>
                <ChainPointText block={c.block} tx={c.tx} />
              </li>
            );
          }
          const s = entry.skipped;
          return (
            <li key={`s:${s.tx}:${s.logIndex}`} className="av-vote av-vote-skipped" data-testid="audit-skipped">
              <span className="av-vote-who">
                <AddressText address={s.coprocessor} short /> <span className="pc-tone-neutral">batch entry skipped</span>
              </span>
              <span className="av-vote-what">{s.whyName}: not counted, nothing changed</span>
              <ChainPointText block={s.block} tx={s.tx} />
            </li>
          );
        })}
      </ol>
      {job.support && job.support.dissenters.length > 0 ? (
        <p className="av-summary-line pc-tone-bad" data-testid="audit-dissenters">
          {job.support.dissenters.length} operator{job.support.dissenters.length === 1 ? "" : "s"} in office voted otherwise: treat the result as disputed.
        </p>
      ) : null}
    </section>
  );
}
