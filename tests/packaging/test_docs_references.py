"""The docs site fails on a broken cross-reference, and only on those.

``scripts/docs.sh`` builds the real site with ``-W``; these tests build a one-page scratch project with the
real site's reference settings (``docs/conf.py``: nitpicky, the ignored external libraries, the suppressed
warnings, the docstring handlers) so that what fails the real build is shown, in a few seconds, to fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from packaging_support import REPO

pytestmark = pytest.mark.packaging

# A scratch project: its conf.py takes the reference settings and handlers from the real one, without the
# real setup() (which generates the whole API reference).
CONF = f"""
import runpy, sys
sys.path.insert(0, {{here!r}})
_real = runpy.run_path({str(REPO / "docs" / "conf.py")!r})
for _name in (
    "extensions", "nitpicky", "nitpick_ignore_regex", "autodoc_type_aliases",
    "autodoc_default_options", "autodoc_typehints", "napoleon_google_docstring", "napoleon_numpy_docstring",
):
    globals()[_name] = _real[_name]
exclude_patterns = ["_build"]


def setup(app):
    _real["connect_handlers"](app)
"""

CLEAN = '''
"""A module whose references all resolve, or point into the ignored external libraries."""

import datetime
from collections.abc import Mapping

#: The most things; :class:`Thing` counts them.
LIMIT = 3
#: Errors worth another try (``type`` here is the built-in, not an attribute named ``type``).
RETRIED: tuple[type[Exception], ...] = (OSError,)


class Thing:
    """A thing (:data:`LIMIT` at most), made at a :class:`datetime.datetime`; see :meth:`Thing.when`."""

    def when(self, at: datetime.datetime) -> Mapping[str, datetime.timedelta]:
        """The delays until ``at``.

        Returns:
            One delay per name.
        """
        return {{}}

    #: What kind of thing (an attribute named like the built-in).
    type: str = "plain"

    @property
    def ready(self) -> bool:
        """True when it is ready: prose with a colon, not a type."""
        return True


class Other:
    """Another class with an attribute of the same name."""

    #: What kind of other thing.
    type: str = "other"
{extra}'''

BROKEN = '''

def broken() -> None:
    """Points at :class:`airflow_provider_oktopost.DoesNotExist`, :meth:`.Thing.missing`,
    :data:`NOT_A_CONSTANT`, :class:`somelib.Widget` (a library not in the ignored list) and
    :attr:`.type` (two targets: ``Thing.type`` and ``Other.type``)."""
'''


def build(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    """Build the scratch project (one page documenting the scratch module) with ``-W``, like docs.sh."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF.format(here=str(src)))
    (src / "scratch_refs.py").write_text(textwrap.dedent(CLEAN.format(extra=extra)))
    (src / "index.rst").write_text("Scratch\n=======\n\n.. automodule:: scratch_refs\n   :members:\n")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "dummy", str(src), str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_resolving_and_external_references_build_cleanly(tmp_path: Path) -> None:
    result = build(tmp_path, extra="")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr


def test_a_broken_reference_fails_the_build(tmp_path: Path) -> None:
    result = build(tmp_path, extra=BROKEN)
    assert result.returncode != 0
    missing = ("airflow_provider_oktopost.DoesNotExist", "Thing.missing", "NOT_A_CONSTANT", "somelib.Widget")
    for target in missing:
        assert f"reference target not found: {target}" in result.stderr, result.stderr
    assert "more than one target found for cross-reference 'type'" in result.stderr, result.stderr
