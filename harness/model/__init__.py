"""EchoMimicV2 networks: reference UNet, motion denoiser, masked audio attention, pose encoder, codecs."""
