"""The released EchoMimicV2 weights in the harness (docs/release.md).

    layout.py    the release's ``pretrained_weights`` folder: which files, where Whisper sits, hashes
    keys.py      release state-dict names -> the harness network's names, and what is dropped or zero-filled
    importer.py  ``harness weights import-release``: read, map, check strictly, write the import folder
    init.py      ``model.init``: load an imported (or any harness) checkpoint into a network built on meta
"""
