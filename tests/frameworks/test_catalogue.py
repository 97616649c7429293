"""The base-image catalogue: every template framework has a CPU entry, lookups fail in one line."""

from __future__ import annotations

import pytest

from frameworks.models import MAKERS


def test_every_template_framework_has_a_cpu_entry_on_the_local_base_image():
    from uaipack.catalogue import for_framework
    from uaipack.settings import LOCAL_BASE_IMAGE

    for framework in [*MAKERS, "self"]:
        entry = for_framework(framework)
        assert entry is not None and entry.built_here, framework
        assert entry.base_image == LOCAL_BASE_IMAGE


def test_a_lookup_by_ai_arch_v_finds_uais_caffe_name_and_gpu_variants_name_a_cuda_image():
    from uaipack.catalogue import lookup

    assert lookup("caffe-1.0.0").packages[0].startswith("opencv-python-headless==4.")
    gpu = lookup("pytorch-2.x", "gpu")
    assert not gpu.built_here and ("cuda" in gpu.base_image or "gpu" in gpu.base_image)


@pytest.mark.parametrize(("ai_arch_v", "device"), [("tensorflow-1.1.0", "cpu"), ("sklearn-1.x", "gpu")])
def test_an_unknown_ai_arch_v_is_one_line_naming_the_known_values(ai_arch_v, device):
    from uaipack import UserError
    from uaipack.catalogue import lookup

    with pytest.raises(UserError) as raised:
        lookup(ai_arch_v, device)

    message = str(raised.value)
    assert "\n" not in message and ai_arch_v in message
    assert "caffe-1.0.0" in message or "pytorch-2.x" in message


def test_the_table_has_a_header_and_one_aligned_row_per_entry():
    from uaipack.catalogue import CATALOGUE, HEADERS, render_table, table

    lines = render_table().splitlines()

    assert len(table()) == len(CATALOGUE) and all(len(row) == len(HEADERS) for row in table())
    assert lines[0].startswith("ai_arch_v") and len(lines) == len(CATALOGUE) + 2
    column = lines[0].index("framework")
    assert all(
        line[column:].startswith(entry.framework) for line, entry in zip(lines[2:], CATALOGUE, strict=True)
    )
