# The MR brain tumour split of the GFM proof (sourced by three_arms_common.sh with DOMAIN=brats, the default).
# BraTS pat0001 FLAIR, expert labels 1 (necrosis), 2 (oedema), 4 (enhancing tumour); axial slices (the tumour
# spans 29..102):
#   slices 0..65   unlabelled pretraining images (FLAIR and T1c), and the adapter's training/validation (29..65)
#   slices 70..102 held apart: evaluation only
# Pretraining also reads two other patients' glioma MR (radiomics brain1/brain2, T1 post-Gd, NRRD; images only).
B=$S/mr_brats_tumour_manual
LABEL=$B/OTMultiClass.nii.gz
IMAGE=$B/Flair_subtrMeanDivStd.nii.gz
python - "$B" "$RUNS/data" <<'PY'
import sys, nibabel as nib
src, dst = sys.argv[1:]
for name in ("Flair_subtrMeanDivStd", "T1c_subtrMeanDivStd"):
    image = nib.load(f"{src}/{name}.nii.gz")
    nib.save(image.slicer[:, :, 0:66], f"{dst}/{name}_slices0-65.nii.gz")  # the slicer keeps the affine exact
PY
PRETRAIN_DATA=("$RUNS/data" "$S/radiomics_nrrd_manual/brain1_image.nrrd" "$S/radiomics_nrrd_manual/brain2_image.nrrd")
ADAPT_DATA=(--image "$IMAGE" --label "$LABEL" --labels 1,2,4 --slices 29:66)
EVAL_DATA=(--image "$IMAGE" --label "$LABEL" --labels 1,2,4 --slices 70:103 --max-slices 8)
