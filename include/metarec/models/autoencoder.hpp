#pragma once
/// @file autoencoder.hpp
/// @brief The autoencoder family (docs/models_ae.md): AutoRec, DeepRec, CDAE, Mult-VAE / Mult-DAE,
/// SVAE and EASE, all over whole-row batches (`RowBatch`).

#include <metarec/models/autoencoder/autorec.hpp>
#include <metarec/models/autoencoder/cdae.hpp>
#include <metarec/models/autoencoder/deeprec.hpp>
#include <metarec/models/autoencoder/ease.hpp>
#include <metarec/models/autoencoder/mult_vae.hpp>
#include <metarec/models/autoencoder/svae.hpp>
