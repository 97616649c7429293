"""The inference class of this service: a Caffe model, run by OpenCV's dnn module (CPU).

Caffe itself has no maintained builds; OpenCV 4.x reads Caffe's files and runs the net
(opencv-python-headless; OpenCV 5.0 dropped the Caffe importer, so stay on 4.x).
Model files in the model folder (conf.json's `http_server.caffe`): `<model_name>.prototxt`
(the deploy net, text) and `<model_name>.caffemodel` (the trained weights), as Caffe wrote them.

Each request is one example, either
- an image (PNG, JPEG, BMP, GIF, WebP; `curl -T 2.png .../service`), decoded and fitted to the
  net's input blob as the .prototxt declares it (N x C x H x W: its size, grey or colour in
  Caffe's BGR order), fed as raw 0..255 pixels as in UAI's Caffe example (`pixel_mean`/`pixel_std`
  change that), answered with the class index as text (`2` and a newline; JSON with scores
  when `image_answer` is `json`); or
- a JSON array nested to the input blob without the batch dimension (C x H x W for an image
  net), answered with the net's output as a JSON list.
Examples of one shape go through the net in one call; a body that is neither, or whose shape
the net rejects, gets a 400 of its own.
"""

import cv2
from uai.arch.caffe_model import CaffeAiUcloudModel
from uai.examples import ModelInput


class MnistModel(CaffeAiUcloudModel):
    """Answers a Caffe net's output (or an image's class) for each request."""

    def load_model(self):
        # model_arch_file is <model_dir>/<model_name>.prototxt, model_weight_file the .caffemodel.
        net = cv2.dnn.readNetFromCaffe(self.model_arch_file, self.model_weight_file)
        blob = self.input_shape()  # N, C, H, W from the .prototxt
        self.inputs = ModelInput.for_model(self, shape=None, image_shape=blob and blob[1:], decoder="opencv")
        return net

    def execute(self, data, batch_size):
        return self.inputs.answer(data[:batch_size], self.predict, model_errors=(cv2.error,))

    def predict(self, batch):
        self.model.setInput(batch)
        return self.model.forward()
