"""The generated ESP feature matrix (docs) agrees with the spec's support table.

The matrix is built by probing each implemented backend, so this checks both
that every backend supports what it should and that the docs can't drift.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "_ext"))

import anymail_feature_matrix as matrix  # noqa: E402

# core-sending.md §12 (with changes-15.2.md §9.1), as this table's cells:
# Y / Y* / Dom -> "Yes"; N / N(acct) -> "No"; at most one tag -> "1"
COLUMNS = [title for title, _attrs, _setup in matrix.FEATURES]
EXPECTED = {
    "Amazon SES": "Yes Yes Yes Yes No Yes No No Yes Yes Yes Yes",
    "Brevo": "No Yes Yes Yes Yes Yes No No No Yes Yes Yes",
    "MailerSend": "No No No No Yes Yes Yes Yes No Yes Yes Yes",
    "Mailgun": "Yes Yes Yes Yes Yes Yes Yes Yes Yes Yes Yes Yes",
    "Mailjet": "Yes Yes Yes Yes No 1 Yes Yes No Yes Yes Yes",
    "Mailtrap": "No Yes Yes Yes No 1 No No No Yes Yes Yes",
    "Mandrill": "Yes Yes Yes No Yes Yes Yes Yes No Yes Yes Yes",
    "Postal": "Yes No No No No 1 No No No No No No",
    "Postmark": "No Yes Yes Yes No 1 Yes Yes No Yes Yes Yes",
    "Resend": "No Yes Yes Yes Yes Yes No No No No No No",
    "Scaleway TEM": "No Yes No No No Yes No No No No No No",
    "SendGrid": "No Yes Yes Yes Yes Yes Yes Yes Yes Yes Yes Yes",
    "SparkPost": "Yes Yes Yes Yes Yes 1 Yes Yes Yes Yes Yes Yes",
    "Unisender Go": "No Yes Yes Yes Yes Yes Yes Yes Yes Yes Yes Yes",
}


def test_columns():
    assert COLUMNS == [
        "envelope_sender",
        "metadata",
        "merge_metadata",
        "merge_headers",
        "send_at",
        "tags",
        "track_clicks",
        "track_opens",
        "AMP html",
        "template_id",
        "merge_data",
        "merge_global_data",
    ]


IMPLEMENTED = matrix.implemented_esps()


def test_core_esps_are_implemented():
    names = {name for name, _backend in IMPLEMENTED}
    assert {"Mailgun", "Postmark"} <= names


@pytest.mark.parametrize(
    "name, backend", IMPLEMENTED, ids=[name for name, _ in IMPLEMENTED]
)
def test_backend_support_matches_spec(name, backend):
    cells = matrix.feature_cells(backend)
    assert [cells[column] for column in COLUMNS] == EXPECTED[name].split()


def test_render_rst():
    rst = matrix.render_rst([("Example", dict.fromkeys(COLUMNS, "Yes"))])
    assert rst.startswith(".. list-table::\n   :header-rows: 1\n")
    assert "   * - ESP\n     - envelope_sender\n" in rst
    assert "   * - Example\n     - Yes\n" in rst
