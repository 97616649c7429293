"""The console page in headless chromium against the real server: state, typed and picked
bodies, every kind of answer, untrusted markup, the curl command, the limit, the samples.

Every test runs in a fresh browser context that must send nothing outside the page's origin
and log no console error (the `visit` fixture checks both afterwards)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from browser.conftest import LIMIT, expect

# One worker runs them all: they share one chromium and one server (`make test` runs --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_the_state_reaches_ready_and_the_page_names_the_model_its_limit_and_links(visit):
    visit.open()
    assert visit.text("#model-name") == "Showcase"
    assert visit.text("#model-framework").startswith("self")
    assert visit.text("#limit") == "body limit 64.0 KiB"
    links = visit.page.eval_on_selector_all("nav a", "links => links.map(a => a.getAttribute('href'))")
    assert links == ["openapi.json", "metrics", "healthz", "readyz"]


def test_a_json_body_typed_in_the_text_box_gets_its_answer_pretty_printed(visit):
    visit.open()
    visit.page.fill("#body", '{"ask": [1, 2]}')
    assert visit.page.input_value("#content-type") == "application/json"
    with visit.page.expect_response(lambda response: response.url.endswith("/service")):
        visit.page.press("#body", "Control+Enter")
    expect(visit.page.locator("#summary")).to_have_text(re.compile("^200"))
    assert json.loads(visit.text("#view pre")) == {"echo": {"ask": [1, 2]}}
    assert "\n  " in visit.text("#view pre")
    assert "application/json" in visit.text("#summary") and " ms" in visit.text("#summary")
    assert "content-type" in visit.page.text_content("#headers")  # collapsed: not inner text


def test_a_file_chosen_with_the_picker_gets_its_answer_and_its_guessed_type(visit, tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    visit.open()
    visit.page.set_input_files("#file", str(table))
    assert visit.page.input_value("#content-type") == "text/csv"
    assert visit.text("#file-info") == "table.csv (8 B)"
    visit.send()
    assert json.loads(visit.text("#view pre")) == {"bytes": 8, "content_type": "text/csv"}


def test_a_file_dropped_on_the_zone_becomes_the_body(visit):
    visit.open()
    dropped = visit.page.evaluate_handle(
        "() => { const files = new DataTransfer();"
        " files.items.add(new File(['abc'], 'x.txt', {type: 'text/plain'})); return files; }"
    )
    visit.page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
    assert visit.text("#file-info") == "x.txt (3 B)"
    visit.send()
    assert json.loads(visit.text("#view pre")) == {"bytes": 3, "content_type": "text/plain"}


def test_a_png_answer_is_previewed_as_an_image(visit, tmp_path):
    visit.open()
    visit.send_json({"answer": "png"})
    size = visit.page.eval_on_selector("#view img", "image => [image.naturalWidth, image.naturalHeight]")
    assert size == [12, 8]
    assert visit.page.get_attribute("#view img", "src").startswith("blob:")
    visit.screenshot("console-png.png", tmp_path)


def test_a_bytes_answer_shows_hex_and_downloads_with_its_size(visit, tmp_path):
    visit.open()
    visit.send_json({"answer": "bytes"})
    assert visit.text("#view pre").startswith("00000000  00 01 02 03")
    with visit.page.expect_download() as download:
        visit.page.click("#download")
    saved = tmp_path / "answer.bin"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "answer.bin"
    assert saved.read_bytes() == bytes(range(256)) * 5


@pytest.mark.parametrize("kind", ["html", "svg", "markup"])
def test_an_answer_holding_html_or_svg_markup_adds_no_element_and_runs_no_script(visit, kind):
    visit.open()
    outside = "[...document.querySelectorAll('*')].filter(e => !e.closest('#view > *, #headers > *'))"
    page_tags = visit.page.evaluate(f"{outside}.map(e => e.tagName)")
    visit.send_json({"answer": kind})
    assert visit.page.evaluate(f"{outside}.map(e => e.tagName)") == page_tags
    assert set(visit.page.evaluate("[...document.querySelectorAll('#view *')].map(e => e.tagName)")) <= {
        "PRE",
        "P",
    }
    assert visit.page.evaluate("window.pwned") is None
    assert visit.page.query_selector("#injected") is None
    if kind == "markup":  # text/plain: shown as the text it is
        assert "<script>window.pwned = 1</script>" in visit.text("#view pre")
    else:
        assert "offered as a download only, never rendered" in visit.text("#view")
        assert visit.page.get_attribute("#download", "download").endswith((".html", ".svg"))


def test_the_curl_command_shown_returns_the_same_body_for_text_and_for_a_file(visit, tmp_path):
    def same_answer_from_curl() -> bool:
        curl = visit.text("#curl")
        answer = subprocess.run(["bash", "-c", curl], capture_output=True, timeout=10, cwd=tmp_path).stdout
        return len(answer) == visit.shown_size() and json.loads(answer) == json.loads(visit.text("#view pre"))

    visit.open()
    visit.page.fill("#body", '{"quote": "it\'s"}\n')
    visit.send()
    assert "--data-raw" in visit.text("#curl") and same_answer_from_curl()
    assert json.loads(visit.text("#view pre")) == {"echo": {"quote": "it's"}}
    picked = tmp_path / "my data.bin"
    picked.write_bytes(bytes(range(40)))
    visit.page.set_input_files("#file", str(picked))
    visit.send()
    assert "--data-binary '@my data.bin'" in visit.text("#curl") and same_answer_from_curl()
    assert json.loads(visit.text("#view pre")) == {"bytes": 40, "content_type": "application/octet-stream"}


def test_a_body_over_the_servers_limit_is_refused_before_it_is_sent(visit, tmp_path):
    large = tmp_path / "large.bin"
    large.write_bytes(bytes(LIMIT + 1))
    visit.open()
    visit.page.set_input_files("#file", str(large))
    visit.page.click("#send")
    assert visit.text("#note").startswith(f"Not sent: the body is 64.0 KiB ({LIMIT + 1} bytes)")
    assert not [url for url in visit.requests if url.endswith("/service")]


def test_a_long_text_answer_is_cut_with_a_note_and_offered_whole_as_a_download(visit):
    visit.open()
    visit.send_json({"answer": "long"})
    assert len(visit.text("#view pre")) == 100000
    assert "showing the first 100,000 of 200,000 characters" in visit.text("#view .cut")
    assert not visit.page.is_hidden("#download")


def test_an_error_answer_is_shown_as_an_error_with_its_retry_after(visit):
    visit.open()
    visit.send_json({"answer": "busy"})
    assert visit.text("#error") == "busy: try later Retry after 7 s."
    assert visit.text("#summary").startswith("503")


def test_cancel_stops_waiting_for_an_answer(visit):
    visit.open()
    visit.page.fill("#body", '{"sleep": 1.5}')
    visit.page.click("#send")
    expect(visit.page.locator("#cancel")).to_be_enabled()
    visit.page.click("#cancel")
    expect(visit.page.locator("#summary")).to_have_text(re.compile("^Cancelled"))
    assert visit.page.is_disabled("#cancel")


def test_running_the_samples_shows_which_answers_match_their_expected_ones(visit, tmp_path):
    visit.open()
    assert visit.page.eval_on_selector_all("#sample-list li button", "b => b.map(x => x.textContent)") == [
        "blob",
        "echo",
        "wrong",
    ]
    visit.page.click("#run-samples")
    expect(visit.page.locator("#sample-list .pass, #sample-list .fail")).to_have_count(3)
    marks = visit.page.eval_on_selector_all(
        "#sample-list li", "rows => rows.map(r => r.lastChild.textContent)"
    )
    assert marks[:2] == ["matches the expected answer", "matches the expected answer"]
    assert marks[2].startswith("differs: expected '{\"echo\": [2, 1]}'")
    visit.page.click("#sample-list li:nth-child(2) button")
    visit.send()
    # The verdict comes after the answer (a second request checks it): wait for it.
    expect(visit.page.locator("#verdict")).to_have_text("Sample echo: matches the expected answer")
    assert "@" not in visit.text("#curl")
    visit.screenshot("console.png", tmp_path)
