"""Sphinx configuration for the Anymail documentation.

The docs are written by hand (no autodoc). The one local extension,
_ext/anymail_feature_matrix.py, imports the package to generate the ESP
feature matrix from the backends themselves.
"""

import re
import sys
from pathlib import Path

_root = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_root), str(_root / "docs" / "_ext")]
_version_file = _root / "anymail" / "_version.py"
_match = re.search(
    r"""__version__\s*=\s*["']([^"']+)["']""",
    _version_file.read_text(encoding="utf-8") if _version_file.exists() else "",
)

project = "Anymail"
author = "the anymail developers"
copyright = "2026, the anymail developers"
release = _match.group(1) if _match else "15.2"
version = release

# anymail_feature_matrix imports the package to probe each ESP backend
extensions = ["anymail_feature_matrix"]
templates_path = []
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"
highlight_language = "python3"
nitpicky = False

html_theme = "alabaster"
html_title = f"Anymail {release}"
html_theme_options = {
    "description": "Django email backends for transactional email services",
    "fixed_sidebar": False,
    "page_width": "1100px",
    "sidebar_width": "220px",
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "relations.html", "searchbox.html"],
}
html_static_path = []


def setup(app):
    # A ".. setting:: NAME" directive and matching :setting:`NAME` role, so
    # settings can be linked to and show up in the general index.
    app.add_object_type(
        "setting",
        "setting",
        indextemplate="pair: %s; setting",
    )
