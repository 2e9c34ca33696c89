"""Paper metrics (FID, FVD, SSIM/PSNR, Sync-C/D, HKC/HKV, CSIM): one file per metric, no training code."""
