#pragma once
// θ of a shared-user ("new-user") MF model from θ of the same model trained with a row per user.
//
// The MF models that serve new users (MatrixFactorization, SideFeatureMF with shared_user = true)
// have the same blocks as their per-user form, except that the user-indexed blocks ("user_factors",
// "user_bias") have one column instead of one per user. A model trained by plain SGD on ratings
// (`metarec train`) thus becomes a new-user model by folding those columns into one: here their
// mean, so that a new user starts from the average training user and adapts from there (the
// fold-in of Surprise and LIBMF starts a new row from zero or the mean, then solves for it).
#include <metarec/core/parameters.hpp>

#include <Eigen/Core>

#include <stdexcept>
#include <string>

namespace metarec {

/// The names of the user-indexed blocks that `shared_user_theta` folds.
[[nodiscard]] inline bool is_user_block(const std::string& name) {
  return name == "user_factors" || name == "user_bias";
}

namespace detail {
/// Checks that `trained_size` values are the per-user form (`num_users` columns in each
/// user-indexed block) of the new-user layout `shared`; `who` names the caller in the message.
inline void check_per_user_size(const char* who, const ParameterLayout& shared, Eigen::Index num_users,
                                Eigen::Index trained_size) {
  if (num_users < 1) throw std::invalid_argument(std::string(who) + ": no users");
  Eigen::Index expected = 0;
  bool has_user_block = false;
  for (std::size_t b = 0; b < shared.blocks().size(); ++b) {
    const Block& blk = shared.blocks()[b];
    if (is_user_block(shared.names()[b])) {
      if (blk.cols != 1)
        throw std::invalid_argument(std::string(who) + ": block '" + shared.names()[b] +
                                    "' of the new-user model has " + std::to_string(blk.cols) + " columns, not 1");
      has_user_block = true;
      expected += blk.rows * num_users;
    } else {
      expected += blk.size();
    }
  }
  if (!has_user_block) throw std::invalid_argument(std::string(who) + ": the model has no user-indexed block");
  if (trained_size != expected)
    throw std::invalid_argument(std::string(who) + ": the trained parameters hold " + std::to_string(trained_size) +
                                " values; this model with " + std::to_string(num_users) + " users has " +
                                std::to_string(expected));
}
}  // namespace detail

/// θ for the model of layout `shared` (user-indexed blocks with one column) from `trained`, the
/// parameters of the same model with `num_users` columns in each user-indexed block: every block
/// is copied, each user-indexed block becomes the mean of its columns.
/// @throws std::invalid_argument when `trained` does not have the size that layout implies (a
///         different model, different dims, another data set), or `shared` has no user block.
template <class S>
[[nodiscard]] Vector<S> shared_user_theta(const ParameterLayout& shared, Eigen::Index num_users,
                                          const Vector<S>& trained) {
  detail::check_per_user_size("shared_user_theta", shared, num_users, trained.size());
  Vector<S> out(shared.size());
  Eigen::Index from = 0;
  for (std::size_t b = 0; b < shared.blocks().size(); ++b) {
    const Block& blk = shared.blocks()[b];
    if (is_user_block(shared.names()[b])) {
      const Eigen::Map<const Matrix<S>> cols(trained.data() + from, blk.rows, num_users);
      out.segment(blk.offset, blk.rows) = cols.rowwise().mean();
      from += blk.rows * num_users;
    } else {
      out.segment(blk.offset, blk.size()) = trained.segment(from, blk.size());
      from += blk.size();
    }
  }
  return out;
}

/// The fold undone for one EXISTING user: writes user `u`'s columns of `trained` (the per-user
/// form of `shared`, as for `shared_user_theta`) into the user-indexed blocks of `theta` (layout
/// `shared`) and leaves every other block as it is. The shared model then predicts for `u`
/// exactly as the per-user model does, and adaptation starts from `u`'s own trained vector
/// instead of the mean user (a known user rating new items: MeLU's item-cold scenario).
/// O(user block sizes + number of blocks); no allocation.
/// @throws std::invalid_argument as `shared_user_theta`, when `theta` is not of layout `shared`,
///         or when `u` is not in [0, num_users).
template <class S>
void set_own_user(const ParameterLayout& shared, Eigen::Index num_users, const Vector<S>& trained, Eigen::Index u,
                  Vector<S>& theta) {
  detail::check_per_user_size("set_own_user", shared, num_users, trained.size());
  if (theta.size() != shared.size())
    throw std::invalid_argument("set_own_user: theta holds " + std::to_string(theta.size()) +
                                " values; the new-user model has " + std::to_string(shared.size()));
  if (u < 0 || u >= num_users)
    throw std::invalid_argument("set_own_user: user " + std::to_string(u) + " is not one of the " +
                                std::to_string(num_users) + " trained users");
  Eigen::Index from = 0;
  for (std::size_t b = 0; b < shared.blocks().size(); ++b) {
    const Block& blk = shared.blocks()[b];
    if (is_user_block(shared.names()[b])) {
      theta.segment(blk.offset, blk.rows) = trained.segment(from + u * blk.rows, blk.rows);
      from += blk.rows * num_users;
    } else {
      from += blk.size();
    }
  }
}

}  // namespace metarec
