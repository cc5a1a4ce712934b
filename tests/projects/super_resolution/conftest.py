"""Tiny params shared by the super_resolution stage and pipeline tests."""

TINY = {
    "data": {"photos": {"train": ["text", "coins"], "val": ["microaneurysms"], "test": ["page", "camera"]}},
    "train": {"models": {"__replace__": True, "fast": {"arch": "edsr", "blocks": 1, "channels": 4},
                         "espcn": {"arch": "espcn", "channels": 4}},
              "runs": {"__replace__": True, "fast_x2": {"model": "fast", "scale": 2, "steps": 4},
                       "fast_x4": {"model": "fast", "scale": 4, "steps": 2, "init_from": "fast_x2"},
                       "espcn_x2": {"model": "espcn", "scale": 2, "steps": 2}},
              "lr_patch": 8, "batch_size": 2, "steps_per_epoch": 2, "val_crop": 32, "verbose": 0},
    "evaluate": {"timing_size": 16, "timing_repeats": 1, "crops": 1, "crop_size": 16},
}
