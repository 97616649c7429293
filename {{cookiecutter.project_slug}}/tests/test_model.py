"""Unit tests of the inference class, in process and without Docker (`invoke test`).

The class is loaded exactly as the server loads it (from conf.json, through the
server's own loader) and every sample in samples/ must get its expected answer, alone
and in one batch. Add your own tests beside this file.
"""

import json
import os
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "code"
sys.path[:0] = [str(ROOT / "server"), str(ROOT)]
os.environ.setdefault("UAI_CODE_DIR", str(CODE))  # model paths resolve from code/, as in the image
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "httpserver.settings")

from httpserver.inputs import RequestInput  # noqa: E402  (needs server/ on sys.path)
from httpserver.loading import create_instance  # noqa: E402
from httpserver.results import to_response  # noqa: E402
from uaipack.samples import find_samples  # noqa: E402


def answer(model, samples):
    """The (status, body) the server would send for each sample, all in one execute call."""
    data = [RequestInput(sample.body, sample.content_type) for sample in samples]
    results = model.execute(data, len(data))
    responses = [to_response(result) for result in results]
    return [(response.status_code, response.content) for response in responses]


class TheModelAnswersTheSamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        conf_path = ROOT / "conf.json"
        if not conf_path.is_file():
            raise unittest.SkipTest("no conf.json: run `invoke conf` (or `invoke test`, which writes it)")
        cls.model = create_instance(json.loads(conf_path.read_text()), CODE)
        cls.samples = find_samples(ROOT / "samples")

    def test_each_sample_alone_gets_its_expected_answer(self):
        for sample in self.samples:
            with self.subTest(sample=sample.name):
                [(status, body)] = answer(self.model, [sample])
                self.assertEqual(status, 200, body[:200])
                self.assertIsNone(sample.mismatch(body))

    def test_one_batch_of_all_samples_answers_each_in_order(self):
        answers = answer(self.model, self.samples)
        self.assertEqual(len(answers), len(self.samples), "execute must return one result per request")
        for sample, (status, body) in zip(self.samples, answers, strict=True):
            with self.subTest(sample=sample.name):
                self.assertEqual(status, 200, body[:200])
                self.assertIsNone(sample.mismatch(body))


if __name__ == "__main__":
    unittest.main()
