import type { ResultVerdict } from "../../../../verdict.js";

/** "n of k votes", and what quorum 1 means. */
export function VotesLine({ verdict }: { verdict: ResultVerdict }) {
  return (
    <div className="votes">
      <p>
        <strong data-testid="votes" data-votes={verdict.votes} data-quorum={verdict.quorum}>
          {verdict.votes} of {verdict.quorum} votes
        </strong>{" "}
        from operators in office agree on this result{verdict.disputed ? ", but others voted differently" : ""}.
      </p>
      {verdict.singleOperator && (
        <p className="warn-text" data-testid="single-operator-warning">
          Quorum 1: a single operator decided this result and could have forged it (it can encrypt any value to your key). Trust it only on
          a development deployment.
        </p>
      )}
    </div>
  );
}
