"""`XGBoostUcloudModel`: base class for XGBoost models (conf section `xgboost`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class XGBoostUcloudModel(AiUcloudModel):
    """Sets model_file (<dir>/<name>, <dir>/<name>.json or .ubj); model_dir defaults to ./checkpoint_dir."""

    framework = "xgboost"
