// The handles of the training and data-parallel sections (d2g.h), shared by the C API files that
// use them: each holds its object by shared_ptr, so that a training step keeps what it uses alive
// whatever order the caller frees the handles in.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../dist/data_parallel.hpp"
#include "../dist/process_group.hpp"
#include "../train/autoencoder_step.hpp"
#include "../train/contrastive_step.hpp"
#include "../train/lpips_steps.hpp"
#include "../train/denoise_step.hpp"
#include "../train/ema.hpp"
#include "../train/optimizer.hpp"

struct d2g_optimizer {
  std::shared_ptr<d2g::train::Optimizer> opt;
  std::vector<std::pair<std::string, at::Tensor>> snapshot;  // from the last state_size
};

struct d2g_ema {
  std::shared_ptr<d2g::train::Ema> ema;
};

struct d2g_process_group {
  std::shared_ptr<d2g::dist::ProcessGroup> pg;
};

struct d2g_data_parallel {
  std::shared_ptr<d2g::dist::DataParallel> dp;
};

struct d2g_train_step {
  std::unique_ptr<d2g::train::TrainStep> step;
};
