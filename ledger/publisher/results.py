"""``results.json`` beside the published tiles: the tally of the published tree, computed by the
publisher with the same audit that anyone runs (``ledger tally``), so it can be reproduced and
checked, never taken on trust (docs/auditor.md, "From records to results")."""

from __future__ import annotations

import json
import os
from contextlib import closing

from ledger.auditor.tally import Tally, TallyBuilder
from ledger.auditor.verify import verify
from ledger.errors import VerificationError, Where
from ledger.formats.keys import parse_verifier_key
from ledger.publisher.destination import Destination, open_destination
from ledger.publisher.publish import publish_file

RESULTS_FILE = "results.json"


def publish_results(outdir: str | os.PathLike[str] | Destination, vkey: str, *,
                    endpoint_url: str | None = None) -> Tally:
    """Tally the tree published in ``outdir`` (a directory or ``s3://`` URL, audited with the
    publisher's ``vkey``, read back from there) and write it whole as ``outdir/results.json``,
    labelled as the publisher's at that tree size.

    Raises:
        VerificationError: the published tree does not verify (nothing is written).
    """
    if isinstance(outdir, str | os.PathLike):
        with closing(open_destination(outdir, endpoint_url=endpoint_url)) as destination:
            return publish_results(destination, vkey)
    key = parse_verifier_key(vkey)
    builder = TallyBuilder()
    with outdir.source() as source:
        report = verify(source, key, observer=builder.add)
    if not report.ok:
        first = report.errors[0]
        raise VerificationError(
            f"the published tree does not verify ({first.message}): no results written",
            category=first.category, code="results-not-verified",
            where=Where(file=RESULTS_FILE))
    tally = builder.result(origin=report.origin or key.name, tree_size=report.tree_size or 0)
    value = tally.to_json() | {
        "computed_by": "the publisher, by the same audit and tally that anyone runs",
        "reproduce": "tally this directory (or its URL) with the publisher's verifier key: "
                     "the same object at the same tree size (docs/auditor.md, \"From records "
                     "to results\")",
    }
    text = json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    publish_file(outdir, RESULTS_FILE, text.encode("utf-8"))
    return tally
