"""uaipack.upgrade without a template repository: where a bake's origin comes from, and the
one-line refusals before anything is changed."""

import sys

import pytest
from uaipack import UserError, upgrade


def test_a_render_by_cruft_is_recorded_with_the_template_and_commit_cruft_gives():
    answers = {"_template": "/srv/uaipack", "_commit": "abc123", "_repo_dir": "ignored"}
    assert upgrade.template_origin(answers) == upgrade.Origin("/srv/uaipack", "abc123")


def test_a_template_folder_that_is_not_a_git_checkout_has_no_origin(tmp_path):
    (tmp_path / "cookiecutter.json").write_text("{}")
    assert upgrade.template_origin({"_template": str(tmp_path), "_repo_dir": str(tmp_path)}) is None


def test_a_bake_records_its_machine_paths_nowhere(tmp_path):
    (tmp_path / "server").mkdir()
    origin = upgrade.Origin("/srv/uaipack", "abc123")
    upgrade.write_state(tmp_path, origin, {"namespace": "n", "_output_dir": "/home/me", "_repo_dir": "/x"})
    text = (tmp_path / ".cruft.json").read_text()
    assert "/home/me" not in text and '"_repo_dir"' not in text and '"namespace": "n"' in text


def test_without_cruft_installed_the_upgrade_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cruft", None)
    with pytest.raises(
        UserError, match=r"cruft is not installed here; `pip install -r requirements-tools.txt`"
    ):
        upgrade._cruft()


def test_a_project_not_under_git_is_refused_with_the_commands_to_put_it_there(tmp_path):
    with pytest.raises(UserError, match=r"not a git repository; run `git init && git add -A"):
        upgrade.require_clean_tree(tmp_path)


def test_a_project_without_a_record_is_told_how_to_link_it(tmp_path):
    with pytest.raises(UserError, match=r"\.cruft\.json is missing.*`invoke link"):
        upgrade.read_state(tmp_path)
