import { shortAddress, shortHash } from "../../app/format.js";
import type { DisputedResultError } from "../../../../errors.js";

/** The votes that disagree with a disputed result, so the patient sees the dispute itself. */
export function DisputeDetail({ error }: { error: DisputedResultError }) {
  return (
    <div className="dispute" data-testid="dispute">
      <p>
        Result <code>{shortHash(error.resultHash)}</code> has {error.votes} of {error.quorum} votes, but these operators in office voted otherwise:
      </p>
      <ul>
        {error.dissent.map((vote) => (
          <li key={vote.coprocessor}>
            <code title={vote.coprocessor}>{shortAddress(vote.coprocessor)}</code> voted{" "}
            {vote.resultHash ? (
              <>
                result <code>{shortHash(vote.resultHash)}</code>
              </>
            ) : (
              <>failure {vote.reasonName}</>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
