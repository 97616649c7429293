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

import cv2
import numpy as np

from uai.arch.caffe_model import CaffeAiUcloudModel
from uai.examples import answer_by_shape, json_array, refusal


class {{ cookiecutter.main_class }}(CaffeAiUcloudModel):
    """Answers a Caffe net's output, one JSON list per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # model_arch_file is <model_dir>/<model_name>.prototxt, model_weight_file the .caffemodel.
        return cv2.dnn.readNetFromCaffe(self.model_arch_file, self.model_weight_file)

    def execute(self, data, batch_size):
        return answer_by_shape(
            data, batch_size,
            parse=lambda request: json_array(request, "float32"),
            predict=self.predict,
            refused=refusal("the body must be one example as a JSON array of numbers"),
            model_errors=(cv2.error,),  # the net's own shape check
        )

    def predict(self, examples):
        self.model.setInput(np.stack(examples))
        return self.model.forward().tolist()
