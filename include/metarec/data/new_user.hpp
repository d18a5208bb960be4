#pragma once
/// @file new_user.hpp
/// @brief A new user's ratings and side features, and the one-user data set that a meta-trained
/// model adapts to and ranks the catalogue for (`registry::MetaModel::score_new_user`).
///
/// The one-user data set keeps the items (ids, features, titles, years), the user-feature schema
/// and the rating scale of the data set the model was built for; its user 0 is the new user. Rows
/// 0..n-1 are the user's ratings in the given order, then one placeholder row (rating = the scale's
/// minimum, never read as a target) per item the user has not rated, in item order: the
/// candidates to rank. Every row's time is its index, so the ratings' order as given is their time
/// order (a sequence model such as SVAE reads the history in that order).
/// @code
/// const metarec::NewUser u = metarec::new_user_from(ds, task.user, task.support);
/// const metarec::Dataset one = metarec::new_user_dataset(ds, u);
/// // support rows: 0 .. u.items.size()-1; candidates: u.items.size() .. one.num_ratings()-1
/// @endcode

#include <metarec/data/dataset.hpp>

#include <cmath>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// A new user: rated items (dense indices of the model's data set), their ratings, and side
/// features (user field name -> category index; absent fields have no value).
struct NewUser {
  std::vector<std::uint32_t> items;  ///< dense item indices, in the order given
  std::vector<float> ratings;        ///< one per item
  std::map<std::string, std::uint32_t> features;
};

/// User `user` of `ds` seen as a new user: the items and ratings of `rows` (rows of `ds`, all of
/// that user) and the user's side features (the first value of each single- or multi-valued field).
/// @throws std::invalid_argument when `user` is out of range or a row is out of range or not the user's
[[nodiscard]] inline NewUser new_user_from(const Dataset& ds, std::uint32_t user,
                                           std::span<const RowIndex> rows) {
  if (user >= ds.num_users())
    throw std::invalid_argument("new_user_from: user " + std::to_string(user) + " of a data set with " +
                                std::to_string(ds.num_users()) + " users");
  NewUser u;
  u.items.reserve(rows.size());
  u.ratings.reserve(rows.size());
  for (const RowIndex r : rows) {
    if (r >= ds.num_ratings() || ds.user(r) != user)
      throw std::invalid_argument("new_user_from: row " + std::to_string(r) + " is not a rating of user " +
                                  std::to_string(user));
    u.items.push_back(ds.item(r));
    u.ratings.push_back(ds.rating(r));
  }
  for (const CategoricalField& f : ds.user_features().fields)
    if (const auto v = f.of(user); !v.empty()) u.features[f.name] = v.front();
  return u;
}

/// The one-user data set of `u` over the items of `ds` (see the file comment).
/// @throws std::invalid_argument when the sizes of items and ratings differ, an item is out of
///         range or rated twice, a rating is outside the scale, or a feature names an unknown
///         field or an out-of-range category
[[nodiscard]] inline Dataset new_user_dataset(const Dataset& ds, const NewUser& u) {
  if (u.items.size() != u.ratings.size())
    throw std::invalid_argument("new_user_dataset: " + std::to_string(u.items.size()) + " items but " +
                                std::to_string(u.ratings.size()) + " ratings");
  DatasetParts p;
  p.name = ds.name();
  p.source = "new user";
  p.users = IdMap::from_ids({0});
  p.items = ds.item_ids();
  p.item_features = ds.item_features();
  p.item_titles.assign(ds.item_titles().begin(), ds.item_titles().end());
  p.item_years.assign(ds.item_years().begin(), ds.item_years().end());
  p.scale = ds.scale();
  std::size_t known = 0;
  for (const CategoricalField& f : ds.user_features().fields) {
    CategoricalField g{f.name, f.labels, {0}, {}};
    if (const auto it = u.features.find(f.name); it != u.features.end()) {
      if (it->second >= f.cardinality())
        throw std::invalid_argument("new_user_dataset: " + f.name + " category " + std::to_string(it->second) +
                                    " of " + std::to_string(f.cardinality()));
      g.values.push_back(it->second);
      ++known;
    }
    g.offsets.push_back(static_cast<std::uint32_t>(g.values.size()));
    p.user_features.fields.push_back(std::move(g));
  }
  if (known != u.features.size())
    throw std::invalid_argument("new_user_dataset: a side feature names a field the data set does not have");
  std::vector<std::uint8_t> rated(ds.num_items(), 0);
  const std::size_t n = u.items.size();
  p.user.reserve(ds.num_items() + n);
  p.item.reserve(ds.num_items() + n);
  p.rating.reserve(ds.num_items() + n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint32_t i = u.items[k];
    const float r = u.ratings[k];
    if (i >= ds.num_items())
      throw std::invalid_argument("new_user_dataset: item " + std::to_string(i) + " of " +
                                  std::to_string(ds.num_items()));
    if (rated[i] != 0)
      throw std::invalid_argument("new_user_dataset: item " + std::to_string(i) + " is rated twice");
    if (!std::isfinite(r) || r < ds.scale().min || r > ds.scale().max)
      throw std::invalid_argument("new_user_dataset: rating " + std::to_string(r) + " outside the scale");
    p.user.push_back(0);
    p.item.push_back(i);
    p.rating.push_back(r);
    p.time.push_back(static_cast<std::int64_t>(k));
    rated[i] = 1;
  }
  for (std::uint32_t i = 0; i < ds.num_items(); ++i)
    if (rated[i] == 0)
      p.user.push_back(0), p.item.push_back(i), p.rating.push_back(ds.scale().min),
          p.time.push_back(static_cast<std::int64_t>(p.user.size() - 1));
  return Dataset(std::move(p));
}

}  // namespace metarec
