"""{{ cookiecutter.project_name }}: a Caffe model served with OpenCV's dnn module (CPU).

Caffe itself has no maintained builds; OpenCV 4.x reads Caffe's files and runs the net
(opencv-python-headless; OpenCV 5.0 dropped the Caffe importer, so stay on 4.x).
Files expected: `{{ cookiecutter.model_dir }}/{{ cookiecutter.model_name }}.prototxt` (the deploy
net, text) and `{{ cookiecutter.model_dir }}/{{ cookiecutter.model_name }}.caffemodel` (the
trained weights), as Caffe wrote them.
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as JSON, nested to the net's input blob without the batch dimension,
e.g. `[5.1, 3.5, 1.4, 0.2]` for an input of shape 1x4, or a CxHxW list for an image net
(for image bodies, decode with `cv2.imdecode` and use `cv2.dnn.blobFromImages`). It returns,
in order, the net's output for that example as a JSON list. Examples of one shape go
through the net in one call; a body that is not numeric JSON, or whose shape the net
rejects, gets a 400 of its own.
"""

import json

import cv2
import numpy as np

from uai.arch.caffe_model import CaffeAiUcloudModel


class {{ cookiecutter.main_class }}(CaffeAiUcloudModel):
    """Answers a Caffe net's output, one JSON list per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # model_arch_file is <model_dir>/<model_name>.prototxt, model_weight_file the .caffemodel.
        return cv2.dnn.readNetFromCaffe(self.model_arch_file, self.model_weight_file)

    def execute(self, data, batch_size):
        answers = [None] * batch_size
        by_shape = {}
        for index, request in enumerate(data[:batch_size]):
            example = array(request)
            if example is None:
                answers[index] = bad_request("the body must be one example as a JSON array of numbers")
            else:
                by_shape.setdefault(example.shape, {})[index] = example
        for shape, group in by_shape.items():
            try:
                self.model.setInput(np.stack(list(group.values())))
                outputs = self.model.forward()
            except cv2.error as error:  # the net's own shape check
                reason = str(error).strip().splitlines()[-1][:200]
                outputs = [bad_request(f"the net cannot take an example of shape {list(shape)}: {reason}")]
                outputs *= len(group)
            for index, output in zip(group, outputs):
                answers[index] = output if isinstance(output, tuple) else output.tolist()
        return answers


def array(request):
    """The body as a float32 array, or None when it is not a numeric JSON array."""
    try:
        example = np.asarray(json.loads(request.read()), dtype=np.float32)
    except (ValueError, TypeError):
        return None
    return example if example.ndim > 0 else None


def bad_request(message):
    return json.dumps({"error": message}), 400, {"Content-Type": "application/json"}
