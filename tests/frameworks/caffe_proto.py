"""The subset of Caffe's caffe.proto that a deploy net needs, built at run time with protobuf.

Caffe has no maintained builds, so the Caffe test writes `.prototxt` (text format) and
`.caffemodel` (binary) itself. Field names and numbers are Caffe's own (BVLC caffe.proto,
package `caffe`), so OpenCV's Caffe importer reads the result as it reads real Caffe files.
"""

from __future__ import annotations

import functools

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
# message -> [(field, number, type, label, message type or None)]
_MESSAGES = {
    "BlobShape": [("dim", 1, _F.TYPE_INT64, _F.LABEL_REPEATED, None)],
    "BlobProto": [
        ("shape", 7, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, "BlobShape"),
        ("data", 5, _F.TYPE_FLOAT, _F.LABEL_REPEATED, None),
    ],
    "InputParameter": [("shape", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, "BlobShape")],
    "InnerProductParameter": [
        ("num_output", 1, _F.TYPE_UINT32, _F.LABEL_OPTIONAL, None),
        ("bias_term", 2, _F.TYPE_BOOL, _F.LABEL_OPTIONAL, None),
    ],
    "LayerParameter": [
        ("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
        ("type", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
        ("bottom", 3, _F.TYPE_STRING, _F.LABEL_REPEATED, None),
        ("top", 4, _F.TYPE_STRING, _F.LABEL_REPEATED, None),
        ("blobs", 7, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, "BlobProto"),
        ("inner_product_param", 117, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, "InnerProductParameter"),
        ("input_param", 143, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, "InputParameter"),
    ],
    "NetParameter": [
        ("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
        ("layer", 100, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, "LayerParameter"),
    ],
}
_PACKED = {("BlobShape", "dim"), ("BlobProto", "data")}  # [packed = true] in caffe.proto


@functools.cache
def message_classes() -> dict[str, type]:
    """The message classes by name (`NetParameter`, `LayerParameter`, ...), in a private pool."""
    proto = descriptor_pb2.FileDescriptorProto(name="caffe_subset.proto", package="caffe", syntax="proto2")
    for message_name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=message_name)
        for field_name, number, kind, label, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = f".caffe.{type_name}"
            if (message_name, field_name) in _PACKED:
                field.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"caffe.{name}"))
        for name in _MESSAGES
    }
